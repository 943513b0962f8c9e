/** Only the public entry points resolve: plait's internal modules are closed to apps. */
// @ts-expect-error internal modules are not exported
import type {} from "plait/internal/run"
