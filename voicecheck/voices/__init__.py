"""Voices (speech synthesis) behind one small interface."""
