<?php
[, $url, $want, $field, $build, $tries, $interval, $timeout, $script, $cafile, $warn_days]
    = array_pad($argv, 11, '');
function readn($s, int $n): string {
    $buf = '';
    while (strlen($buf) < $n && !feof($s)) {
        $chunk = fread($s, $n - strlen($buf));
        if ($chunk === false || $chunk === '') { break; }
        $buf .= $chunk;
    }
    return $buf;
}
// In maintenance (`artisan down --secret`, storage/ shared by every app container) the probe
// carries Laravel's bypass cookie, made from the secret in storage/framework/down as Laravel
// makes it (MaintenanceModeBypassCookie): the release's checks see the build behind the 503.
function bypass_cookie(string $script): string {
    $down = $script === '' ? '' : dirname($script, 2) . '/storage/framework/down';
    $data = $down !== '' && is_readable($down) ? json_decode((string) file_get_contents($down), true) : null;
    if (!is_array($data) || !isset($data['secret'])) { return ''; }
    $expires = time() + 3600;
    $mac = hash_hmac('sha256', (string) $expires, (string) $data['secret']);
    return 'laravel_maintenance=' . rawurlencode(base64_encode(json_encode(['expires_at' => $expires, 'mac' => $mac])));
}
function fcgi_get(string $host, int $port, string $uri, string $script, float $timeout): array {
    $s = @stream_socket_client("tcp://$host:$port", $errno, $errstr, $timeout);
    if (!$s) { return [0, "connect: $errstr", []]; }
    stream_set_timeout($s, (int) ceil($timeout));
    $rec = fn (int $type, string $c): string
        => pack('CCnnCx', 1, $type, 1, strlen($c), 0) . $c;
    $len = fn (string $x): string
        => strlen($x) < 128 ? chr(strlen($x)) : pack('N', strlen($x) | 0x80000000);
    [$path, $query] = array_pad(explode('?', $uri, 2), 2, '');
    $params = ['GATEWAY_INTERFACE' => 'CGI/1.1', 'REQUEST_METHOD' => 'GET',
        'SCRIPT_FILENAME' => $script, 'SCRIPT_NAME' => '/index.php',
        'DOCUMENT_ROOT' => dirname($script), 'REQUEST_URI' => $uri,
        'DOCUMENT_URI' => '/index.php', 'QUERY_STRING' => $query, 'SERVER_PROTOCOL' => 'HTTP/1.1',
        'SERVER_NAME' => 'localhost', 'SERVER_PORT' => '80', 'HTTP_HOST' => 'localhost',
        'HTTP_ACCEPT' => 'application/json', 'REMOTE_ADDR' => '127.0.0.1'];
    if (($cookie = bypass_cookie($script)) !== '') { $params['HTTP_COOKIE'] = $cookie; }
    $p = '';
    foreach ($params as $k => $v) { $p .= $len($k) . $len($v) . $k . $v; }
    fwrite($s, $rec(1, pack('nCx5', 1, 0)) . $rec(4, $p) . $rec(4, '') . $rec(5, ''));
    $out = '';
    while (strlen($head = readn($s, 8)) === 8) {
        $h = unpack('Cversion/Ctype/nid/nlen/Cpad', $head);
        $content = readn($s, $h['len']);
        readn($s, $h['pad']);
        if ($h['type'] === 6) { $out .= $content; }
        if ($h['type'] === 3) { break; }
    }
    fclose($s);
    [$headers, $body] = array_pad(explode("\r\n\r\n", $out, 2), 2, '');
    $code = $out === '' ? 0 : (preg_match('{^Status: (\d+)}mi', $headers, $m) ? (int) $m[1] : 200);
    return [$code, $body, explode("\r\n", $headers)];
}
// https: the peer is verified (the system's roots, plus $cafile when given) and its
// certificate kept for the receipt.
function http_get(string $url, float $timeout, string $cafile, string $script, ?array &$cert): array {
    $ssl = ['verify_peer' => true, 'verify_peer_name' => true, 'capture_peer_cert' => true];
    if ($cafile !== '') { $ssl += ['cafile' => $cafile, 'capath' => '/etc/ssl/certs']; }
    $cookie = bypass_cookie($script);
    $ctx = stream_context_create(['http' => ['ignore_errors' => true, 'timeout' => $timeout,
        'header' => "Accept: application/json\r\n" . ($cookie !== '' ? "Cookie: $cookie\r\n" : ''),
        'follow_location' => 0], 'ssl' => $ssl]);
    $http_response_header = [];
    $body = @file_get_contents($url, false, $ctx);
    $code = preg_match('{^HTTP/\S+ (\d+)}', $http_response_header[0] ?? '', $m) ? (int) $m[1] : 0;
    if ($body === false) { $body = error_get_last()['message'] ?? 'request failed'; }
    $peer = stream_context_get_options($ctx)['ssl']['peer_certificate'] ?? null;
    $cert = $peer ? openssl_x509_parse($peer) : null;
    return [$code, (string) $body, $http_response_header];
}
function describe(array $c, int $warn_days): string {
    $end = (int) $c['validTo_time_t'];
    $line = sprintf('; certificate: CN=%s, issuer CN=%s, serial %s, not after %s',
        $c['subject']['CN'] ?? '?', $c['issuer']['CN'] ?? '?', $c['serialNumberHex'] ?? '?',
        gmdate('Y-m-d H:i \U\T\C', $end));
    $days = (int) floor(($end - time()) / 86400);
    if ($warn_days > 0 && $days < $warn_days) {
        $line .= "; warning: the certificate expires in $days day(s): renew it";
    }
    return $line;
}
$u = parse_url($url);
if (($u['scheme'] ?? '') === 'https' && !extension_loaded('openssl')) {
    fwrite(STDERR, "the image's PHP has no openssl extension: the https check needs it\n");
    exit(1);
}
// FIELD `header:<name>`: the build is that response header's value (build_header.php, the FPM
// worker's own); otherwise the JSON body's dotted key (the app's own route).
function served_build(string $field, string $body, array $headers) {
    if (strncmp($field, 'header:', 7) === 0) {
        $name = strtolower(substr($field, 7));
        foreach ($headers as $h) {
            [$k, $v] = array_pad(explode(':', (string) $h, 2), 2, null);
            if ($v !== null && strtolower(trim($k)) === $name) { return trim($v); }
        }
        return null;
    }
    $got = json_decode($body, true);
    foreach (explode('.', $field) as $k) { $got = is_array($got) ? ($got[$k] ?? null) : null; }
    return $got;
}
// What the app said, in a few lines: JSON on one line, the text of an HTML page, else the body
// as it is.
function said(string $body, int $lines = 3): array {
    $json = json_decode($body, true);
    if (is_array($json)) {
        $body = json_encode($json, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
    } elseif (preg_match('{<(html|body|div|p|title)\b}i', $body)) {
        $body = preg_replace('{<(style|script|head)\b.*?</\1>}is', ' ', $body);
        $body = html_entity_decode(strip_tags(preg_replace('{<(br|/p|/div|/h\d|/title|/li)\b[^>]*>}i', "\n", $body)));
    }
    $out = [];
    foreach (preg_split('{\r?\n}', $body) as $line) {
        $line = trim(preg_replace('{\s+}', ' ', $line));
        if ($line === '' || ($out !== [] && end($out) === $line)) { continue; }
        $out[] = strlen($line) > 200 ? substr($line, 0, 197) . '...' : $line;
        if (count($out) === $lines) { break; }
    }
    return $out === [] ? ['(an empty body)'] : $out;
}
$by_header = strncmp($field, 'header:', 7) === 0;
$where = $by_header ? 'no ' . substr($field, 7) . ' header' : "no JSON field $field";
// A config cache made without APP_BUILD (baked into the image at build time: incident A) answers
// without a build too.
$fix = 'a config cache made without APP_BUILD (baked into the image?), or '
    . ($by_header ? "no 'build' => env('APP_BUILD') in config/app.php"
        : "a route that does not answer JSON with $field = config('app.build')");
$cert = null;
$last = null;
$same = 0;
$flush = function () use (&$same, &$i) {
    if ($same > 0) { fwrite(STDERR, '  ... the same ' . ($same === 1 ? 'once more' : "$same more times") . ', until attempt ' . ($i - 1) . "\n"); }
    $same = 0;
};
for ($i = 1; $i <= (int) $tries; $i++) {
    $uri = ($u['path'] ?? '/') . (isset($u['query']) ? '?' . $u['query'] : '');
    [$code, $body, $headers] = ($u['scheme'] ?? '') === 'fcgi'
        ? fcgi_get($u['host'], (int) $u['port'], $uri, $script, (float) $timeout)
        : http_get($url, (float) $timeout, $cafile, $script, $cert);
    $got = served_build($field, $body, $headers);
    if ($code === (int) $want && ($build === '' || $got === $build)) {
        $flush();
        // Every probe (Docker's, the chain's) would start a session: files pile up.
        $cookies = preg_grep('{^Set-Cookie:}i', $headers);
        $names = preg_replace('{^Set-Cookie:\s*([^=;]*).*$}i', '$1', $cookies);
        $warn = $cookies ? '; warning: the health response sets a cookie ('
            . implode(', ', $names) . '): make the health route session-free' : '';
        $tls = $cert ? describe($cert, (int) $warn_days) : '';
        $shown = $by_header ? 'build' : $field;
        echo "healthy: $url HTTP $code, $shown=" . (is_string($got) ? $got : json_encode($got)) . " (attempt $i)$tls$warn\n";
        exit(0);
    }
    $line = "$url HTTP $code, build=" . json_encode($got, JSON_UNESCAPED_SLASHES) . ", want HTTP $want and "
        . ($build === '' ? 'any build' : $build) . ($code === 0 ? " ($body)" : '');
    if ($line === $last) {
        $same++;
    } else {
        $flush();
        fwrite(STDERR, "attempt $i/$tries: $line\n");
        $last = $line;
    }
    if ($i < (int) $tries) { usleep((int) ((float) $interval * 1e6)); }
}
$flush();
// The verdict, from the last answer: no answer or a wrong status (exit 3: the step then shows
// the container's last log lines), or the right status with another build (exit 1).
if ($code === 0) {
    fwrite(STDERR, "health check failed: the app did not answer ($body)\n");
    exit(3);
}
if ($code !== (int) $want) {
    fwrite(STDERR, "health check failed: the app answered HTTP $code, not $want; what it said:\n");
    foreach (said($body) as $l) { fwrite(STDERR, "  | $l\n"); }
    exit(3);
}
if ($got === null) {
    fwrite(STDERR, "health check failed: the served code is not the deployed build: HTTP $code without a build ($where): $fix; what it said:\n");
    foreach (said($body) as $l) { fwrite(STDERR, "  | $l\n"); }
    exit(1);
}
fwrite(STDERR, 'health check failed: the served code is not the deployed build: it serves '
    . (is_string($got) ? $got : json_encode($got, JSON_UNESCAPED_SLASHES)) . ", not $build\n");
exit(1);
