"""laravel-stack components: one Pulumi ComponentResource per concern."""
