import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: { conditions: ["plait-source"] },
  ssr: { resolve: { conditions: ["plait-source"] } },
  test: {
    include: ["test/**/*.test.ts"],
    reporters: ["default", "./test/support/summaryReporter.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
