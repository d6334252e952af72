"""The worker thread that owns the models, what it is asked to do (Qt-free request
types), the live detect stage, background thread priority and the UI thread's
garbage collection while the worker runs."""
