"""Threads Desktop: private peer-to-peer photo albums and chats."""

__version__ = "0.1.0"
