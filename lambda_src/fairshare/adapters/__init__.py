"""Adapters: the ports implemented against AWS with boto3."""
