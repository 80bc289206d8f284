<?php

namespace App\Models;

use Illuminate\Database\Eloquent\Model;

class JobRun extends Model
{
    protected $fillable = [
        'token',
        'requested_by_build',
        'requested_by_code',
        'worker_build',
        'worker_code',
        'worker_host',
        'attempt',
    ];

    protected $casts = [
        'attempt' => 'integer',
    ];
}
