"""Config files the stack uploads into containers, as pure functions of the validated config."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def php_ini(settings: Mapping[str, str]) -> str:
    """The production php.ini overrides; loaded through PHP_INI_SCAN_DIR by every SAPI."""
    lines = ["; managed by laravel-stack: changes here are replaced on the next release"]
    lines += [f"{key} = {value}" for key, value in sorted(settings.items())]
    return "\n".join(lines) + "\n"


UPSTREAM_DIR = "/etc/nginx/laravel-stack"
UPSTREAM_FILE = f"{UPSTREAM_DIR}/upstream.conf"
#: in the nginx container: the switch (and switch back) script, uploaded with nginx's config
PROXY_SWITCH = "/usr/local/lib/laravel-stack/proxy_switch.sh"
#: where each build's public/ lives in the public volume: releases/<public_dir(build)>
PUBLIC_RELEASES = "releases"


def public_dir(build: str) -> str:
    """A build's directory in the public volume: its manifest digest, shortened."""
    digest = build.rsplit("@", 1)[-1].removeprefix("sha256:")
    if len(digest) < 16 or not all(c in "0123456789abcdef" for c in digest):
        raise ValueError(f"not a pinned build (repository@sha256:…): {build!r}")
    return digest[:16]


def nginx_conf(app_root: str, runtime: str, behind_tls: bool = False) -> str:
    """The stable front proxy: owns the published port, never replaced by a release.

    The app container it talks to is the variable `$app_upstream`, and the files it serves are
    that build's own public/ (`$app_public`, a directory of the public volume), both set by an
    included file that the release chain's `switch` step rewrites before a graceful
    `nginx -s reload`. Until the first switch it points nowhere (502). A static file the live
    build lacks comes from the build live before it (`$app_public_previous`): a page loaded
    before the switch still gets its hashed assets. A file neither has goes to the app (its
    404), so a file a build removed is gone once the build after it is live, and a failed
    build's files are never served after a switch back. `resolver` makes nginx resolve
    container names at request time. `behind_tls`: only the TLS edge reaches it, so every
    request came over HTTPS (Laravel then builds https:// URLs and secure cookies without
    trusting any header).
    """
    https = "\n        fastcgi_param HTTPS on;" if behind_tls else ""
    previous = f"{app_root}/public/{PUBLIC_RELEASES}/$app_public_previous"
    proto = "https" if behind_tls else "$scheme"
    if runtime == "fpm":
        app = f"""    location / {{
        try_files $uri $uri/ @previous;
    }}

    location @previous {{
        root {previous};
        try_files $uri /index.php?$query_string;
    }}

    location ~ \\.php$ {{
        fastcgi_pass $app_upstream;
        include fastcgi_params;
        # The script lives in the app container's image, not in the public volume.
        fastcgi_param SCRIPT_FILENAME {app_root}/public/index.php;
        fastcgi_param DOCUMENT_ROOT {app_root}/public;
        fastcgi_param HTTP_PROXY "";{https}
    }}
"""
    else:
        app = f"""    location / {{
        try_files $uri @previous;
    }}

    location @previous {{
        root {previous};
        try_files $uri @octane;
    }}

    location @octane {{
        proxy_pass http://$app_upstream;
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto {proto};
    }}
"""
    return f"""# managed by laravel-stack
server {{
    listen 80 default_server;
    server_name _;
    index index.php;
    client_max_body_size 20M;
    resolver 127.0.0.11 valid=5s ipv6=off;
    set $app_upstream 127.0.0.1:1;
    set $app_public none;
    set $app_public_previous none;
    include {UPSTREAM_DIR}/*.conf;
    root {app_root}/public/{PUBLIC_RELEASES}/$app_public;

{app}
    location = /favicon.ico {{ access_log off; log_not_found off; }}

    location ~ /\\.(?!well-known) {{ deny all; }}
}}
"""


# Where the TLS edge (Caddy) finds what the stack uploads; certificates it obtains live in its
# data volume (/data, XDG_DATA_HOME of the official image and of ours).
EDGE_DIR = "/etc/caddy/laravel-stack"
EDGE_CHAIN = f"{EDGE_DIR}/chain.pem"
EDGE_KEY = f"{EDGE_DIR}/key.pem"
EDGE_ROOTS = f"{EDGE_DIR}/ca-roots.pem"
EDGE_DATA = "/data"
#: web.tls.ca_roots in the app container, for the verify step's https check
APP_CA_ROOTS = "/usr/local/etc/laravel-stack/ca-roots.pem"


def caddyfile(
    *,
    mode: str,
    domains: Sequence[str],
    http_port: int,
    https_port: int,
    upstream: str,
    email: str | None = None,
    acme_directory: str | None = None,
    ca_roots: bool = False,
    hsts_seconds: int = 0,
) -> str:
    """The TLS edge: HTTPS for `domains` (HTTP/1.1 and HTTP/2, TLS 1.2+), HTTP redirected except
    ACME's HTTP-01 challenges (Caddy answers those before any route), everything passed to the
    stable nginx (`upstream`), which the release switch reloads. Nothing here changes with a
    release, so the edge is never reloaded nor replaced by one."""
    if mode not in ("files", "acme"):
        raise ValueError(f"no edge for web.tls.mode {mode!r}")
    glob = [
        "admin off",  # nothing reconfigures it at run time: a new config is a new container
        f"http_port {http_port}",
        f"https_port {https_port}",
    ]
    if mode == "acme":
        glob.append(f"email {email}")
        if acme_directory:
            glob.append(f"acme_ca {acme_directory}")
        if ca_roots:
            glob.append(f"acme_ca_root {EDGE_ROOTS}")
    # No HTTP/3: it needs UDP published too, and an advertised but closed h3 slows clients down.
    glob += ["servers {", "\tprotocols h1 h2", "}"]
    tls = f"tls {EDGE_CHAIN} {EDGE_KEY} {{" if mode == "files" else "tls {"
    port = "" if https_port == 443 else f":{https_port}"
    site = [
        f"{tls}",
        "\tprotocols tls1.2 tls1.3",
        "}",
    ]
    if hsts_seconds:
        site.append(f'header Strict-Transport-Security "max-age={hsts_seconds}"')
    site.append(f"reverse_proxy {upstream}")

    def indent(lines: list[str]) -> str:
        return "\n".join(f"\t{line}" for line in lines)

    return (
        "# managed by laravel-stack\n"
        "{\n"
        + indent(glob)
        + "\n}\n\n"
        # Explicit, so that the redirect names a non-standard HTTPS port (Caddy's own omits it).
        + ", ".join(f"http://{d}" for d in domains)
        + " {\n"
        + f"\tredir https://{{host}}{port}{{uri}} 308\n}}\n\n"
        + ", ".join(domains)
        + " {\n"
        + indent(site)
        + "\n}\n"
    )


def swarm_nginx_conf(app_root: str, app_tasks: str, runtime: str, port: int) -> str:
    """nginx of the swarm stack, one on every node (a global service): it never changes with a
    release, so a release never restarts it (its port is the node's: a restart would drop
    requests).

    PHP requests go to `tasks.<app>` (`app_tasks`) on `port`, FastCGI to FPM or HTTP/1.1 to
    Octane (`runtime`), resolved by Docker's DNS at most a second old: only the app tasks whose
    health check passed (their release chain) are in it, and a task that stops leaves it; a
    connection refused is retried on another task (`error timeout`, nginx's default for
    fastcgi_next_upstream and proxy_next_upstream alike, written out for Octane), and so is one
    that does not answer within a second (a task on a node that died, until Swarm declares the
    node down). A short resolver_timeout: while no task is healthy Docker's DNS does not know
    the name and would wait 10 s. Static files are each build's own public/ on the shared volume
    (swarm_public.sh): current, then the rollout's next, then the previous build; a `.php` URI
    and one ending in `/` always go to the app (no PHP file is ever served as text, no
    directory answers 403).
    """
    if runtime == "fpm":
        app = f"""        fastcgi_pass $app_tasks;
        # A task on a node that died does not refuse: it times out. Try another task at once.
        fastcgi_connect_timeout 1s;
        include fastcgi_params;
        # The script lives in the app task's image, not in the shared volume.
        fastcgi_param SCRIPT_FILENAME {app_root}/public/index.php;
        fastcgi_param DOCUMENT_ROOT {app_root}/public;
        fastcgi_param HTTP_PROXY "";"""
    elif runtime == "octane":
        app = """        proxy_pass http://$app_tasks;
        # A task on a node that died does not refuse: it times out. Try another task at once.
        proxy_connect_timeout 1s;
        proxy_next_upstream error timeout;
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;"""
    else:
        raise ValueError(f"unknown web runtime {runtime!r}")
    return f"""# managed by laravel-stack (swarm)
server {{
    listen 80 default_server;
    server_name _;
    client_max_body_size 20M;
    resolver 127.0.0.11 valid=1s ipv6=off;
    resolver_timeout 2s;
    set $app_tasks {app_tasks}:{port};
    root {app_root}/public/{PUBLIC_RELEASES};

    location / {{
        try_files /current$uri /next$uri /previous$uri @app;
    }}

    # A URI ending in / (the home page) is the app's: try_files would find the build's
    # directory and answer 403 (there is no index in a swarm stack's nginx).
    location ~ /$ {{
{app}
    }}

    location @app {{
{app}
    }}

    location ~ \\.php$ {{
{app}
    }}

    location = /favicon.ico {{ access_log off; log_not_found off; }}

    location ~ /\\.(?!well-known) {{ deny all; }}
}}
"""
