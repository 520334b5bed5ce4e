"""The built-in simulator as a ROS 2 node + brainpilot flying it over ROS 2 topics.

    ros2 launch launch/sim.launch.py track:=aigp-qualifier laps:=3            # paced in real time
    ros2 launch launch/sim.launch.py realtime:=0                              # lockstep on /clock

`sim serve --ros2` publishes /camera/image_raw, /camera/camera_info, /imu/data (SensorData QoS) and
takes /brainpilot/command (TwistStamped) and /brainpilot/armed; with realtime:=0 it publishes /clock
and waits for each command, and the node is switched to `clock: lockstep` through its parameter.
The launch ends when the simulator has flown its laps. Needs a sourced ROS 2 and rclnodejs.
"""
import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, ExecuteProcess, RegisterEventHandler
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.substitutions import LaunchConfiguration, PythonExpression

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))


def generate_launch_description():
    track = LaunchConfiguration('track')
    laps = LaunchConfiguration('laps')
    seed = LaunchConfiguration('seed')
    realtime = LaunchConfiguration('realtime')
    config = LaunchConfiguration('config')
    clock = PythonExpression(["'lockstep' if float('", realtime, "') == 0 else 'realtime'"])
    sim = ExecuteProcess(
        cmd=['npx', 'brainpilot', 'sim', 'serve', '--ros2', '--track', track, '--laps', laps, '--seed', seed,
             '--realtime', realtime],
        cwd=ROOT, output='screen', emulate_tty=True, name='brainpilot_sim')
    node = ExecuteProcess(
        cmd=['npx', 'brainpilot', 'run', '--config', config, '--ros-args', '-p', ['clock:=', clock]],
        cwd=ROOT, output='screen', emulate_tty=True, sigterm_timeout='5', name='brainpilot')
    return LaunchDescription([
        DeclareLaunchArgument('track', default_value='aigp-qualifier', description='must match track.map in the config'),
        DeclareLaunchArgument('laps', default_value='3'),
        DeclareLaunchArgument('seed', default_value='1'),
        DeclareLaunchArgument('realtime', default_value='1', description='sim seconds per wall second; 0 = lockstep'),
        DeclareLaunchArgument('config', default_value=os.path.join(ROOT, 'config', 'ros2-sim.yaml')),
        sim,
        node,
        # the simulator ends the run (laps flown or crash); the node disarms and exits on SIGINT
        RegisterEventHandler(OnProcessExit(target_action=sim, on_exit=[EmitEvent(event=Shutdown(reason='simulator finished'))])),
    ])
