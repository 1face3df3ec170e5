/**
 * Scans the model repository (Triton's layout):
 *
 *   models/<model>/model.yaml              optional, the group
 *   models/<model>/<version>/model.onnx    the version
 *   models/<model>/<version>/version.yaml  optional: label, signature, training record, sha256
 *
 * The scan only reads what is on disk; loading sessions is the runtime's job. A folder
 * that is not a valid name is skipped with a warning; a version whose files are wrong is
 * still listed, with the problem, so that it can be reported as failed.
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '../log.js'
import { ModelGroupMetadataSchema, readYamlFile, VersionMetadataSchema } from './metadata.js'
import type { ModelGroupMetadata, VersionMetadata } from './metadata.js'
import { compareVersionNames, isValidName } from './names.js'

export interface ScannedVersion {
  readonly model: string
  readonly version: string
  readonly dir: string
  readonly onnxPath: string
  readonly metadata: VersionMetadata | null
  /** Why this version cannot be loaded, found while scanning (bad version.yaml, no model.onnx). */
  readonly problem: string | null
}

export interface ScannedModel {
  readonly name: string
  readonly dir: string
  readonly metadata: ModelGroupMetadata | null
  readonly problem: string | null
  readonly versions: readonly ScannedVersion[]
}

export async function scanModelRepository(modelsDir: string, log: Logger): Promise<ScannedModel[]> {
  const models: ScannedModel[] = []
  for (const entry of await listDirectories(modelsDir)) {
    if (!isValidName(entry)) {
      log.warn('skipping a folder of the model repository whose name is not a valid model name', { folder: join(modelsDir, entry) })
      continue
    }
    models.push(await scanModel(entry, join(modelsDir, entry), log))
  }
  return models.sort((a, b) => a.name.localeCompare(b.name))
}

/** The folders of the repository that are valid model names, loaded or not (Triton's index lists both). */
export async function listModelFolders(modelsDir: string): Promise<string[]> {
  return (await listDirectories(modelsDir)).filter(isValidName)
}

/** One model's folder, as the full scan reads it; null when the repository has no such folder. */
export async function scanModelFolder(modelsDir: string, name: string, log: Logger): Promise<ScannedModel | null> {
  if (!(await listDirectories(modelsDir)).includes(name)) return null
  return scanModel(name, join(modelsDir, name), log)
}

async function scanModel(name: string, dir: string, log: Logger): Promise<ScannedModel> {
  let metadata: ModelGroupMetadata | null = null
  let problem: string | null = null
  try {
    metadata = await readYamlFile(join(dir, 'model.yaml'), ModelGroupMetadataSchema)
  } catch (err) {
    problem = (err as Error).message
    log.warn('model.yaml is invalid; serving the versions without group metadata', { model: name, problem })
  }
  const versions: ScannedVersion[] = []
  for (const entry of await listDirectories(dir)) {
    if (!isValidName(entry)) {
      log.warn('skipping a folder whose name is not a valid version id', { folder: join(dir, entry) })
      continue
    }
    versions.push(await scanVersion(name, entry, join(dir, entry)))
  }
  versions.sort((a, b) => compareVersionNames(a.version, b.version))
  return { name, dir, metadata, problem, versions }
}

async function scanVersion(model: string, version: string, dir: string): Promise<ScannedVersion> {
  const onnxPath = join(dir, 'model.onnx')
  let metadata: VersionMetadata | null = null
  let problem: string | null = null
  try {
    metadata = await readYamlFile(join(dir, 'version.yaml'), VersionMetadataSchema)
  } catch (err) {
    problem = `version.yaml is invalid: ${(err as Error).message}`
  }
  const isRemote = metadata?.upstream !== undefined
  if (problem === null && !isRemote && !(await listFiles(dir)).includes('model.onnx')) problem = 'the folder has no model.onnx (and version.yaml names no upstream)'
  return { model, version, dir, onnxPath, metadata, problem }
}

async function listDirectories(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true })
  return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort()
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true })
  return entries.filter((e) => e.isFile()).map((e) => e.name)
}
