<?php
// One of the stack's release hooks (release.hooks), run inside the new app container by
// `docker exec` as the web user (or root, when the config says why), with the container's env.
//
//   php hook.php NAME TIMEOUT APP_ROOT [--as-root REASON] -- ARGV...
//
// Runs ARGV (no shell) in APP_ROOT, its output passed through line by line with the value of
// every secret-looking variable of the environment (…KEY, …SECRET, …PASSWORD, …TOKEN) replaced
// by [secret]: a hook that prints its env never puts a secret into the step's output. After
// TIMEOUT seconds it gets SIGTERM, 10 s later SIGKILL, and the hook fails saying so. The exit
// status is the hook's own (124 on a timeout).

const GRACE = 10;

function fail(string $message, int $code = 2): void
{
    fwrite(STDERR, "hook: $message\n");
    exit($code);
}

$args = array_slice($argv, 1);
$sep = array_search('--', $args, true);
if ($sep === false || $sep < 3 || $sep === count($args) - 1) {
    fail('usage: hook.php NAME TIMEOUT APP_ROOT [--as-root REASON] -- ARGV...');
}
[$name, $timeout, $root] = $args;
$command = array_slice($args, $sep + 1);
$timeout = (int) $timeout;
$asRoot = array_slice($args, 3, $sep - 3);
if ($asRoot && ($asRoot[0] !== '--as-root' || count($asRoot) !== 2)) {
    fail("$name: unknown arguments " . implode(' ', $asRoot));
}

$secrets = [];
foreach (getenv() as $key => $value) {
    if (preg_match('/(KEY|SECRET|PASSWORD|PASS|TOKEN)$/i', $key) && strlen($value) >= 4) {
        $secrets[$value] = '[secret]';
    }
}
// Longest first: a secret that contains another is replaced whole.
uksort($secrets, fn ($a, $b) => strlen($b) <=> strlen($a));
$redact = fn (string $text): string => strtr($text, $secrets);

$uid = function_exists('posix_geteuid') ? posix_geteuid() : null;
$who = $uid === null ? 'the exec user' : (posix_getpwuid($uid)['name'] ?? "uid $uid");
$how = $asRoot ? " (as root: {$asRoot[1]})" : '';
echo "hook $name: " . $redact(implode(' ', array_map('escapeshellarg', $command))) . " as $who$how\n";

if (!is_dir($root)) {
    fail("$name: no app root $root in this container");
}
$proc = @proc_open($command, [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']],
    $pipes, $root);
if ($proc === false) {
    fail("$name: cannot start " . $command[0], 127);
}
stream_set_blocking($pipes[1], false);
stream_set_blocking($pipes[2], false);
$buffers = [1 => '', 2 => ''];
$out = [1 => STDOUT, 2 => STDERR];
$flush = function (int $fd, bool $all) use (&$buffers, $out, $redact): void {
    // Whole lines only (a secret split across two reads is still found), the rest at the end.
    $cut = $all ? strlen($buffers[$fd]) : (int) strrpos($buffers[$fd], "\n") + 1;
    if ($cut > 0 && ($all || strpos($buffers[$fd], "\n") !== false)) {
        fwrite($out[$fd], $redact(substr($buffers[$fd], 0, $cut)));
        $buffers[$fd] = (string) substr($buffers[$fd], $cut);
    }
};

$start = microtime(true);
$termAt = null;
$status = proc_get_status($proc);
$open = [1 => $pipes[1], 2 => $pipes[2]];
while ($open) {
    $read = array_values($open);
    $write = $except = null;
    if (@stream_select($read, $write, $except, 0, 200000) > 0) {
        foreach ($open as $fd => $pipe) {
            $chunk = fread($pipe, 65536);
            if ($chunk !== false && $chunk !== '') {
                $buffers[$fd] .= $chunk;
                $flush($fd, false);
            } elseif (feof($pipe)) {
                unset($open[$fd]);
            }
        }
    }
    $elapsed = microtime(true) - $start;
    if ($termAt === null && $elapsed > $timeout) {
        $termAt = $elapsed;
        proc_terminate($proc, 15);
    } elseif ($termAt !== null && $elapsed > $termAt + GRACE) {
        proc_terminate($proc, 9);
        break;
    }
}
$flush(1, true);
$flush(2, true);
// The exit code is reported once, by the first proc_get_status that sees the process gone.
while (($status = proc_get_status($proc))['running']) {
    usleep(50000);
}
$code = $status['signaled'] ? 128 + $status['termsig'] : $status['exitcode'];
proc_close($proc);
if ($termAt !== null) {
    fail(sprintf('%s: timed out after %d s (release.hooks timeout), stopped', $name, $timeout), 124);
}
if ($code !== 0) {
    fail(sprintf('%s: failed with exit code %d after %.1f s', $name, $code, microtime(true) - $start), $code);
}
printf("hook %s: done in %.1f s\n", $name, microtime(true) - $start);
