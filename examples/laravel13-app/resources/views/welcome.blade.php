<!DOCTYPE html>
<html lang="{{ str_replace('_', '-', app()->getLocale()) }}">
<head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>{{ config('app.name') }}</title>
    {{-- Vite's hashed assets (public/build, built in the image's node stage). --}}
    @vite(['resources/css/app.css', 'resources/js/app.js'])
</head>
<body>
    <h1>{{ config('app.name') }}</h1>
    <p>Laravel {{ app()->version() }} on PHP {{ PHP_VERSION }}, served by <code>{{ $host }}</code>.</p>
    <dl>
        <dt>Build (APP_BUILD)</dt>
        <dd><code>{{ $build ?? 'unset' }}</code></dd>
        <dt>Code version</dt>
        <dd><code>{{ $code }}</code></dd>
    </dl>
    <p>Probes: <a href="/up">/up</a>, <a href="/db/count">/db/count</a>,
        <a href="/queue/runs">/queue/runs</a>, <a href="/heartbeat">/heartbeat</a>,
        <a href="/storage/hello.txt">/storage/hello.txt</a>.</p>
</body>
</html>
