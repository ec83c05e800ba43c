"""Host-process Lambda runtime executor for LocalStack (``LAMBDA_RUNTIME_EXECUTOR=host``)."""
