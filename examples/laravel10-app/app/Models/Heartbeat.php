<?php

namespace App\Models;

use Illuminate\Database\Eloquent\Model;

class Heartbeat extends Model
{
    protected $fillable = ['source', 'build', 'code', 'host'];
}
