/**
 * The ROS 2 launch files, checked without ROS 2: each is valid Python (python3 -c "import ast"), starts
 * `npx brainpilot` through ExecuteProcess, references only config files that exist and validate
 * against the schema, and the topics its bridges remap to are the ones its config subscribes to.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/schema.js';

const root = join(import.meta.dirname, '..');
const launchDir = join(root, 'launch');
const files = readdirSync(launchDir).filter((f) => f.endsWith('.launch.py'));
const python = spawnSync('python3', ['--version']).status === 0;

/** config/*.yaml paths a launch file names (as os.path.join(ROOT, 'config', 'x.yaml') or literally). */
function configsOf(src: string): string[] {
  const joined = [...src.matchAll(/os\.path\.join\(ROOT,\s*'config',\s*'([^']+)'\)/g)].map((m) => join('config', m[1]!));
  const literal = [...src.matchAll(/['"](config\/[\w.-]+\.ya?ml)['"]/g)].map((m) => m[1]!);
  return [...new Set([...joined, ...literal])];
}

describe('launch files', () => {
  it('there is one for the node alone, the built-in sim, Gazebo and PX4', () => {
    expect(files.sort()).toEqual(['brainpilot.launch.py', 'gazebo.launch.py', 'px4.launch.py', 'sim.launch.py']);
  });

  it.skipIf(!python)('each parses as Python and defines generate_launch_description', () => {
    for (const f of files) {
      const r = spawnSync('python3', ['-c', 'import ast,sys; t = ast.parse(open(sys.argv[1]).read()); print(",".join(n.name for n in t.body if isinstance(n, ast.FunctionDef)))', join(launchDir, f)], { encoding: 'utf8' });
      expect(r.stderr, f).toBe('');
      expect(r.status, f).toBe(0);
      expect(r.stdout.trim().split(','), f).toContain('generate_launch_description');
    }
  });

  it('each starts brainpilot with a config that exists and validates', () => {
    for (const f of files) {
      const src = readFileSync(join(launchDir, f), 'utf8');
      expect(src, f).toContain('ExecuteProcess(');
      expect(src, f).toContain("'npx', 'brainpilot', 'run', '--config'");
      const configs = configsOf(src);
      expect(configs.length, `${f} names no config`).toBeGreaterThan(0);
      for (const c of configs) {
        expect(existsSync(join(root, c)), `${f} → ${c}`).toBe(true);
        expect(loadConfig(join(root, c)).transport.kind, `${f} → ${c}`).toBe('ros2');
      }
    }
  });

  it('the bridges remap to the topics the configs subscribe and publish', () => {
    const gz = readFileSync(join(launchDir, 'gazebo.launch.py'), 'utf8');
    const g = loadConfig(join(root, 'config', 'gazebo.yaml')).transport;
    if (g.kind !== 'ros2') throw new Error('gazebo.yaml is not a ros2 config');
    expect(g.output).toBe('actuators');
    for (const topic of [g.imageTopic, g.cameraInfoTopic, g.imuTopic, g.commandTopic]) expect(gz).toContain(`'${topic}'`);
    expect(gz).toContain('actuator_msgs/msg/Actuators]gz.msgs.Actuators');

    const px4 = readFileSync(join(launchDir, 'px4.launch.py'), 'utf8');
    const p = loadConfig(join(root, 'config', 'px4-ros2.yaml')).transport;
    if (p.kind !== 'ros2') throw new Error('px4-ros2.yaml is not a ros2 config');
    expect(p).toMatchObject({ output: 'px4', imuType: 'px4_msgs/msg/SensorCombined', imuTopic: '/fmu/out/sensor_combined', px4Prefix: '/fmu' });
    for (const topic of [p.imageTopic, p.cameraInfoTopic]) expect(px4).toContain(`'${topic}'`);

    const sim = readFileSync(join(launchDir, 'sim.launch.py'), 'utf8');
    const s = loadConfig(join(root, 'config', 'ros2-sim.yaml'));
    expect(s.transport).toMatchObject({ kind: 'ros2', output: 'ctbr', imageTopic: '/camera/image_raw', imuTopic: '/imu/data', commandTopic: '/brainpilot/command', armedTopic: '/brainpilot/armed' });
    // the launch's default track is the config's prior map
    expect(sim).toContain(`DeclareLaunchArgument('track', default_value='${s.track.map}'`);
    expect(sim).toContain("'sim', 'serve', '--ros2'");
  });
});
