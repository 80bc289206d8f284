"""Config files the stack uploads into containers, as pure functions of the validated config."""

from __future__ import annotations

from collections.abc import Mapping


def php_ini(settings: Mapping[str, str]) -> str:
    """The production php.ini overrides; loaded through PHP_INI_SCAN_DIR by every SAPI."""
    lines = ["; managed by laravel-stack: changes here are replaced on the next release"]
    lines += [f"{key} = {value}" for key, value in sorted(settings.items())]
    return "\n".join(lines) + "\n"


UPSTREAM_DIR = "/etc/nginx/laravel-stack"
UPSTREAM_FILE = f"{UPSTREAM_DIR}/upstream.conf"


def upstream_conf(target: str) -> str:
    """What the release's switch step writes: the one line that names the live app container."""
    return f"set $app_upstream {target};"


def nginx_conf(app_root: str, runtime: str) -> str:
    """The stable front proxy: owns the published port, never replaced by a release.

    The app container it talks to is the variable `$app_upstream`, set by an included file
    that the release chain's `switch` step rewrites before a graceful `nginx -s reload`. Until the
    first switch it points nowhere (502). `resolver` makes nginx resolve container names at
    request time.
    """
    if runtime == "fpm":
        app = f"""    location / {{
        try_files $uri $uri/ /index.php?$query_string;
    }}

    location ~ \\.php$ {{
        fastcgi_pass $app_upstream;
        include fastcgi_params;
        # The script lives in the app container's image, not in the public volume.
        fastcgi_param SCRIPT_FILENAME {app_root}/public/index.php;
        fastcgi_param DOCUMENT_ROOT {app_root}/public;
        fastcgi_param HTTP_PROXY "";
    }}
"""
    else:
        app = """    location / {
        try_files $uri @octane;
    }

    location @octane {
        proxy_pass http://$app_upstream;
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
    }
"""
    return f"""# managed by laravel-stack
server {{
    listen 80 default_server;
    server_name _;
    root {app_root}/public;
    index index.php;
    client_max_body_size 20M;
    resolver 127.0.0.11 valid=5s ipv6=off;
    set $app_upstream 127.0.0.1:1;
    include {UPSTREAM_DIR}/*.conf;

{app}
    location = /favicon.ico {{ access_log off; log_not_found off; }}

    location ~ /\\.(?!well-known) {{ deny all; }}
}}
"""
