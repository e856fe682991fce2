#!/usr/bin/env python3
"""Local AWS stand-ins for Doorstep: DynamoDB Local + moto (EventBridge, Secrets Manager,
SQS), and the trigger runner that invokes functions as template.yaml's triggers would.

Run from the repo root with the project venv:

    .local/venv/bin/python infra/local/stack.py up --name dev [--ddb-port P] [--moto-port P] [--persist]
    .local/venv/bin/python infra/local/stack.py down --name dev
    .local/venv/bin/python infra/local/stack.py env --name dev
    .local/venv/bin/python infra/local/stack.py bootstrap [--name dev]
    .local/venv/bin/python infra/local/stack.py rotate-keys --name dev
    .local/venv/bin/python infra/local/stack.py triggers --name dev --invoke-port P [--detach]
    .local/venv/bin/python infra/local/stack.py trigger --name dev --invoke-port P NAME

Each named stack keeps its state in .local/NAME/ (pid files, logs, env file and,
with --persist, the DynamoDB data), so several stacks can run side by side.
The code lives in the doorstep_stack package beside this file.
"""

import sys

from doorstep_stack.cli import main

if __name__ == "__main__":
    sys.exit(main())
