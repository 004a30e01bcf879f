"""Drivers that connect the sans-IO machines to the outside world.

Each driver is a thin pump: read a socket, feed the machine, send what it
wants sent, arm one timer at its next deadline.  No protocol decision is
made here.
"""
