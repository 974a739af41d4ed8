"""phoenixflight_api.v1: generated protobuf and gRPC code. DO NOT EDIT.

Made by scripts/gen_protos.py from proto/phoenixflight/v1/ with grpcio-tools 1.85.1
and mypy-protobuf 5.1.0.
"""
