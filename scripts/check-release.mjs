#!/usr/bin/env node
// CI-safe release check, no registry and no git base branch needed:
// 1. the pending changesets, applied by `changeset version` to a scratch copy of the workspace's
//    manifests, bump the published packages together (one `fixed` group), by no more than the
//    changesets ask for (a peer dependency inside the group must not turn a minor into a major),
//    and version nothing private;
// 2. `pnpm pack` of each published package (what `changeset publish` uploads through
//    `pnpm publish`) holds the build, the README and a manifest without `workspace:` ranges:
//    `@probe/*` dependencies pinned to the release version, `@probe/*` peers a range that the
//    release version satisfies.
// `changeset status` compares against the `main` branch with git, so it only means something in
// a pull request: there, run `pnpm changeset status --since=origin/main`.
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const PUBLISHED = ['protocol', 'server', 'client', 'redis'];
// The semver that changesets itself uses, so ranges are read the way it reads them.
const semver = createRequire(realpathSync(join(root, 'node_modules/@changesets/cli/package.json')))(
  'semver',
);
const BUMPS = ['patch', 'minor', 'major'];
/**
 * Everything a published tarball may hold besides package.json (dist/browser.*: the browser and
 * React Native build of @probe/protocol; dist/conformance.js: its exchange runner for the
 * probe-conformance command; docs/: its design notes).
 */
const ALLOWED =
  /^(dist\/index\.(js|cjs|d\.ts|d\.cts)(\.map)?|dist\/browser\.(js|cjs)(\.map)?|dist\/conformance\.js(\.map)?|docs\/[a-z-]+\.md|README\.md|PROTOCOL\.md|LICENSE|CHANGELOG\.md|vectors\/(frames|exchanges)\.json|vectors\/README\.md|bin\/probe-conformance\.mjs)$/;
const REQUIRED = [
  'package.json',
  'README.md',
  'dist/index.js',
  'dist/index.cjs',
  'dist/index.d.ts',
  'dist/index.d.cts',
];

const problems = [];
const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));

/** Workspace package directories, from the globs in pnpm-workspace.yaml (`dir` or `dir/*`). */
function workspaceDirs() {
  const yaml = readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8');
  const globs = [...yaml.matchAll(/^\s+-\s+['"]?([^'"\s#]+)['"]?\s*$/gm)].map((m) => m[1]);
  const dirs = [];
  for (const glob of globs) {
    if (glob.endsWith('/*')) {
      const parent = glob.slice(0, -2);
      for (const name of readdirSync(join(root, parent))) dirs.push(`${parent}/${name}`);
    } else {
      dirs.push(glob);
    }
  }
  return dirs.filter((dir) => existsSync(join(root, dir, 'package.json')));
}

/**
 * The largest bump the pending changesets ask for, from their front matter
 * (`'@probe/server': minor`), or undefined when none asks for one.
 */
function requestedBump(files) {
  let largest = -1;
  for (const file of files) {
    const text = readFileSync(join(root, '.changeset', file), 'utf8');
    const front = /^---\r?\n([\s\S]*?)\r?\n---/.exec(text)?.[1] ?? '';
    for (const match of front.matchAll(/^\s*['"]?(@probe\/[^'":\s]+)['"]?\s*:\s*(\w+)\s*$/gm)) {
      largest = Math.max(largest, BUMPS.indexOf(match[2]));
    }
  }
  return BUMPS[largest];
}

function checkReleasePlan() {
  const scratch = mkdtempSync(join(tmpdir(), 'probe-release-plan-'));
  try {
    cpSync(join(root, 'package.json'), join(scratch, 'package.json'));
    cpSync(join(root, 'pnpm-workspace.yaml'), join(scratch, 'pnpm-workspace.yaml'));
    cpSync(join(root, '.changeset'), join(scratch, '.changeset'), { recursive: true });
    const before = new Map();
    for (const dir of workspaceDirs()) {
      mkdirSync(join(scratch, dir), { recursive: true });
      cpSync(join(root, dir, 'package.json'), join(scratch, dir, 'package.json'));
      before.set(dir, readJson(join(root, dir, 'package.json')));
    }
    const changesets = readdirSync(join(root, '.changeset')).filter(
      (name) => name.endsWith('.md') && name !== 'README.md',
    );
    const bump = requestedBump(changesets);
    const cli = join(root, 'node_modules/@changesets/cli/bin.js');
    execFileSync(process.execPath, [cli, 'version'], { cwd: scratch, stdio: 'pipe' });

    console.log(
      `Release plan from ${changesets.length} pending changeset(s), largest bump ${bump ?? 'none'}:`,
    );
    const published = new Set();
    for (const [dir, old] of before) {
      const now = readJson(join(scratch, dir, 'package.json'));
      const bumped = now.version !== old.version;
      if (old.private) {
        if (bumped)
          problems.push(`private package ${old.name} would be versioned (${now.version})`);
        if (existsSync(join(scratch, dir, 'CHANGELOG.md'))) {
          problems.push(`private package ${old.name} would get a CHANGELOG.md`);
        }
        continue;
      }
      if (!PUBLISHED.includes(dir.replace(/^packages\//, ''))) {
        problems.push(
          `${old.name} (${dir}) is published but not checked: add it to PUBLISHED in ` +
            'scripts/check-release.mjs and scripts/check-packages.mjs',
        );
      }
      published.add(now.version);
      console.log(
        `  ${old.name.padEnd(16)} ${old.version} → ${now.version}${bumped ? '' : ' (unchanged)'}`,
      );
      const expected = bump ? semver.inc(old.version, bump) : old.version;
      if (now.version !== expected) {
        problems.push(
          `${old.name} would be ${now.version}, but the changesets ask for ` +
            `${bump ? `a ${bump}` : 'no'} release (${expected}); a peer range on a package of ` +
            'the group that the new version leaves makes changesets release a major ' +
            '(see .changeset/README.md)',
        );
      }
      for (const [name, range] of Object.entries(now.dependencies ?? {})) {
        if (name.startsWith('@probe/') && range !== 'workspace:*')
          problems.push(`${old.name} depends on ${name}@${range}, expected workspace:*`);
      }
      for (const [name, range] of Object.entries(now.peerDependencies ?? {})) {
        if (name.startsWith('@probe/') && !range.startsWith('workspace:'))
          problems.push(`${old.name} has the peer ${name}@${range}, expected a workspace: range`);
      }
    }
    if (published.size > 1) {
      problems.push(`the published packages would get different versions: ${[...published]}`);
    }
  } catch (error) {
    problems.push(`changeset version failed: ${error.stderr?.toString() || error.message}`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function checkTarballs() {
  const out = mkdtempSync(join(tmpdir(), 'probe-pack-'));
  try {
    for (const name of PUBLISHED) {
      const dir = join(root, 'packages', name);
      const manifest = readJson(join(dir, 'package.json'));
      if (!existsSync(join(dir, 'dist/index.js'))) {
        problems.push(
          `${manifest.name} is not built: run pnpm turbo run build --filter=./packages/*`,
        );
        continue;
      }
      const result = JSON.parse(
        execFileSync('pnpm', ['pack', '--json', '--pack-destination', out], {
          cwd: dir,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'inherit'],
        }),
      );
      const files = result.files.map((file) => file.path);
      console.log(
        `${manifest.name}@${manifest.version}: ${files.length} files, ${result.size} B packed`,
      );
      for (const file of files) {
        if (file !== 'package.json' && !ALLOWED.test(file))
          problems.push(`${manifest.name} packs ${file}`);
      }
      for (const file of REQUIRED) {
        if (!files.includes(file)) problems.push(`${manifest.name} does not pack ${file}`);
      }
      const packed = JSON.parse(
        execFileSync('tar', ['-xzOf', result.filename, 'package/package.json'], {
          encoding: 'utf8',
        }),
      );
      for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
        for (const [dep, range] of Object.entries(packed[field] ?? {})) {
          if (range.startsWith('workspace:')) {
            problems.push(`${manifest.name} publishes ${dep}@${range}`);
          } else if (!dep.startsWith('@probe/')) {
            // Third-party ranges are the package's own business.
          } else if (field === 'peerDependencies') {
            // The peer is the one copy the application installs: it must accept the version
            // released beside this package.
            if (!semver.satisfies(manifest.version, range))
              problems.push(
                `${manifest.name} publishes the peer ${dep}@${range}, which ${manifest.version} does not satisfy`,
              );
          } else if (range !== manifest.version) {
            problems.push(
              `${manifest.name} publishes ${dep}@${range}, expected ${manifest.version}`,
            );
          }
        }
      }
      const peers = Object.entries(packed.peerDependencies ?? {}).map(([d, r]) => `${d}@${r}`);
      if (peers.length > 0) console.log(`  peers: ${peers.join(', ')}`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

checkReleasePlan();
checkTarballs();
if (problems.length > 0) {
  for (const problem of problems) console.error(`✗ ${problem}`);
  process.exit(1);
}
console.log('✓ release plan and tarballs look right');
