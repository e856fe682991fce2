"""Local AWS stand-ins for Doorstep and the triggers that drive its functions.

DynamoDB Local and moto (EventBridge, Secrets Manager, SQS) run as named stacks under
.local/NAME/; the trigger runner invokes functions through `cargo lambda watch` as the
schedules, rules, stream and queues declared in template.yaml would. infra/local/stack.py
is the command line.
"""
