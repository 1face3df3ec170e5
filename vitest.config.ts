import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'training/**/*.test.ts'],
          exclude: ['**/*.case.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 30_000, // real ONNX sessions load in the test
          hookTimeout: 30_000,
        },
      },
    ],
  },
})
