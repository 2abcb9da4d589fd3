"""Networking: the libp2p host, the sync protocol, blob transfer and LAN discovery."""
