<?php

namespace App\Console\Commands;

use App\Models\Heartbeat as HeartbeatRow;
use App\Support\BuildInfo;
use Illuminate\Console\Command;

class Heartbeat extends Command
{
    /**
     * @var string
     */
    protected $signature = 'app:heartbeat {--source=schedule : what triggered this heartbeat}';

    /**
     * @var string
     */
    protected $description = 'Record a scheduler heartbeat (with the build this process runs)';

    public function handle(): int
    {
        $row = HeartbeatRow::create([
            'source' => (string) $this->option('source'),
            'build' => BuildInfo::build(),
            'code' => BuildInfo::code(),
            'host' => BuildInfo::host(),
        ]);

        $this->line(sprintf('heartbeat #%d build=%s code=%s', $row->id, $row->build ?? '-', $row->code));

        return self::SUCCESS;
    }
}
