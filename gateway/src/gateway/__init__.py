"""The gateway: the one front door of the services (`gateway.main:create_app`)."""
