<!DOCTYPE html>
<html lang="en">
<head>
    <meta charset="utf-8">
    <title>Back soon</title>
</head>
<body>
    {{-- The app's own 503 page: `artisan down --render=errors::503` prerenders it (release.maintenance). --}}
    <h1>We are updating the site</h1>
    <p>Back in a moment{{ isset($retryAfter) ? ' (about '.$retryAfter.' seconds)' : '' }}.</p>
</body>
</html>
