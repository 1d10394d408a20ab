import { dcacheProject } from '../../vitest.project.ts'

// Real servers and child processes: generous timeouts for a loaded CI machine.
export default dcacheProject('sqlite', { testTimeout: 30_000, hookTimeout: 60_000 })
