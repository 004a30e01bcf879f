"""sansip.phone: the phone API — a sans-IO :class:`~sansip.phone.core.PhoneCore`
that decides everything (accounts, lines, call states, media glue, policies,
CDRs) and thin front ends per event loop."""
