"""Config files the stack uploads into containers, as pure functions of the validated config."""

from __future__ import annotations

from collections.abc import Mapping


def php_ini(settings: Mapping[str, str]) -> str:
    """The production php.ini overrides; loaded through PHP_INI_SCAN_DIR by every SAPI."""
    lines = ["; managed by laravel-stack: changes here are replaced on the next release"]
    lines += [f"{key} = {value}" for key, value in sorted(settings.items())]
    return "\n".join(lines) + "\n"


def nginx_conf(app_root: str, fpm_host: str, fpm_port: int) -> str:
    """nginx in front of PHP-FPM: static files from the public volume, PHP to the app container.

    `resolver` + a variable upstream make nginx re-resolve the app's name, so a recreated
    app container is found again without restarting nginx.
    """
    return f"""# managed by laravel-stack
server {{
    listen 80 default_server;
    server_name _;
    root {app_root}/public;
    index index.php;
    client_max_body_size 20M;
    resolver 127.0.0.11 valid=5s ipv6=off;
    set $fpm {fpm_host}:{fpm_port};

    location / {{
        try_files $uri $uri/ /index.php?$query_string;
    }}

    location = /favicon.ico {{ access_log off; log_not_found off; }}

    location ~ \\.php$ {{
        fastcgi_pass $fpm;
        fastcgi_index index.php;
        include fastcgi_params;
        # The script lives in the app container's image, not in the public volume.
        fastcgi_param SCRIPT_FILENAME {app_root}/public/index.php;
        fastcgi_param DOCUMENT_ROOT {app_root}/public;
        fastcgi_param HTTP_PROXY "";
    }}

    location ~ /\\.(?!well-known) {{ deny all; }}
}}
"""
