/** Rewrites the storage table in README.md from src/privacy/storage-inventory.ts. */
import fs from "node:fs";
import { renderStorageTable, STORAGE_TABLE_END, STORAGE_TABLE_START } from "../privacy/storage-table.js";

const readme = fs.readFileSync("README.md", "utf8");
const start = readme.indexOf(STORAGE_TABLE_START);
const end = readme.indexOf(STORAGE_TABLE_END);
if (start < 0 || end < start) {
  process.stderr.write("README.md has no storage-inventory markers\n");
  process.exit(1);
}
fs.writeFileSync("README.md", readme.slice(0, start) + renderStorageTable() + readme.slice(end + STORAGE_TABLE_END.length));
