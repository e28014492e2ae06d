import { onEmulators } from '../scenarios/emulator-world';
import { lifecycleScenarios } from '../scenarios/lifecycle';

// The lifecycle's rules on the service's adapters over the local S3 and DynamoDB;
// tests/unit runs the same in memory.
lifecycleScenarios(onEmulators);
