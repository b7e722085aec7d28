"""The rules of a conversation, without any user interface.

What the model is sent, which sampling and context size a conversation answers with
(context.py), and how an answer is recorded while it is written (recorder.py):
decided here once, for the chat screen, compare and any other front end, and testable
without Textual (an import-linter contract keeps it so).
"""
