"""Content: PDQ hashing, hash indexes and banks, robust views, frame and chat classifiers."""
