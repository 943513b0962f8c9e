import { Journal } from "plait"
import { corruptRowConformance } from "../support/conformance/corrupt-rows.ts"
import { journalConformance } from "../support/conformance/journal.ts"

journalConformance("Journal.layerMemory", Journal.layerMemory)
corruptRowConformance("Journal.layerMemory", Journal.layerMemory)
