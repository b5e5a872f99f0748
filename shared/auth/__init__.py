"""Who may call an endpoint's routes: function keys (checked by the host) or Entra ID tokens
(checked here). docs/security.md explains the two doors."""
