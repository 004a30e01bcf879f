"""The ``sansip`` command line."""
