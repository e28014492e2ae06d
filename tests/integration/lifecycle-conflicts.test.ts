import { onEmulatorsWithConflicts } from '../scenarios/emulator-world';
import { lifecycleScenarios } from '../scenarios/lifecycle';

// The same scenarios where every write to DynamoDB meets a transaction conflict on its first
// try, as writes do on AWS when several chunks of one upload are in flight: the adapter's
// retries must make that invisible.
lifecycleScenarios(onEmulatorsWithConflicts);
