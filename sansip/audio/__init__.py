"""sansip.audio: codecs, jitter buffer, frame sources and sinks (the media core)."""
