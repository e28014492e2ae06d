#!/bin/sh
# The image's entry point: Lambda's runtime interface client, serving the handler named by the
# image's command (or by the function's ImageConfig.Command). aws-lambda-ric 4 reads the
# handler and the code's folder from the environment only, as Lambda's own base images set it.
set -e
export _HANDLER="${_HANDLER:-$1}"
export LAMBDA_TASK_ROOT="${LAMBDA_TASK_ROOT:-/var/task}"
cd "$LAMBDA_TASK_ROOT"
exec node node_modules/aws-lambda-ric/index.mjs
