<?php

namespace App\Support;

/**
 * What this process is running: the deployed build (APP_BUILD, baked into the
 * config cache by `php artisan config:cache`) and the code version baked into
 * the image at build time (config/build.php, from the APP_CODE_VERSION build arg).
 */
class BuildInfo
{
    public static function build(): ?string
    {
        $build = config('app.build');

        return $build === null || $build === '' ? null : (string) $build;
    }

    public static function code(): string
    {
        return (string) config('build.code', 'unknown');
    }

    public static function host(): string
    {
        return (string) gethostname();
    }

    /**
     * @return array{build: ?string, code: string, host: string}
     */
    public static function toArray(): array
    {
        return [
            'build' => static::build(),
            'code' => static::code(),
            'host' => static::host(),
        ];
    }
}
