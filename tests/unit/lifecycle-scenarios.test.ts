import { lifecycleScenarios } from '../scenarios/lifecycle';
import { inMemory } from '../scenarios/world';

// The lifecycle's rules on the in-memory ports; tests/integration runs the same on the
// emulators.
lifecycleScenarios(inMemory);
