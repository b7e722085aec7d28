"""Conversations: the SQLite database (`database.Store`), chat.py history files, export/import.

Kept empty so that reading a history file does not load the database code.
"""
