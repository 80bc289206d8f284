<?php

// Replaced at image build time from the APP_CODE_VERSION build argument
// (see the Dockerfile). "dev" = running from a source checkout.
return [
    'code' => 'dev',
];
