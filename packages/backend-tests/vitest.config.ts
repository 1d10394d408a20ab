import { dcacheProject } from '../../vitest.project.ts'

export default dcacheProject('backend-tests', {
  testTimeout: 20_000,
  typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
})
