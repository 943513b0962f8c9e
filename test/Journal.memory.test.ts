import { Journal } from "plait"
import { journalConformance } from "./journal-conformance.ts"

journalConformance("Journal.layerMemory", Journal.layerMemory)
