import { Journal } from "plait"
import { corruptRowConformance } from "./corrupt-rows.ts"
import { journalConformance } from "./journal-conformance.ts"

journalConformance("Journal.layerMemory", Journal.layerMemory)
corruptRowConformance("Journal.layerMemory", Journal.layerMemory)
