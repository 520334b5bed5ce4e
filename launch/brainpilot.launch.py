"""brainpilot as a ROS 2 node, alone: `npx brainpilot run --config <config>` with topic remaps.

    ros2 launch launch/brainpilot.launch.py config:=config/gazebo.yaml image:=/my_cam/image_raw

The node's parameters are the config's `transport` keys; a params file (ROS 2 format, node name
`brainpilot`) overrides them: params_file:=my_params.yaml. Needs a sourced ROS 2 and rclnodejs
(docs/ros2.md).
"""
import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, LogInfo
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PythonExpression

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))


def generate_launch_description():
    config = LaunchConfiguration('config')
    image = LaunchConfiguration('image')
    camera_info = LaunchConfiguration('camera_info')
    imu = LaunchConfiguration('imu')
    command = LaunchConfiguration('command')
    params_file = LaunchConfiguration('params_file')
    log_level = LaunchConfiguration('log_level')
    has_params = PythonExpression(["'", params_file, "' != ''"])
    base = ['npx', 'brainpilot', 'run', '--config', config, '--log-level', log_level, '--ros-args',
            # remaps from the config's topic names (config/ros2-sim.yaml defaults) to this system's
            '-r', ['/camera/image_raw:=', image],
            '-r', ['/camera/camera_info:=', camera_info],
            '-r', ['/imu/data:=', imu],
            '-r', ['/brainpilot/command:=', command]]
    return LaunchDescription([
        DeclareLaunchArgument('config', default_value=os.path.join(ROOT, 'config', 'ros2-sim.yaml'),
                              description='brainpilot YAML config (config/*.yaml)'),
        DeclareLaunchArgument('image', default_value='/camera/image_raw', description='sensor_msgs/Image topic'),
        DeclareLaunchArgument('camera_info', default_value='/camera/camera_info', description='sensor_msgs/CameraInfo topic'),
        DeclareLaunchArgument('imu', default_value='/imu/data', description='sensor_msgs/Imu topic'),
        DeclareLaunchArgument('command', default_value='/brainpilot/command', description='command output topic'),
        DeclareLaunchArgument('params_file', default_value='', description='optional ROS 2 params file overriding the config'),
        DeclareLaunchArgument('log_level', default_value='info', description='brainpilot log level'),
        LogInfo(msg=['brainpilot: ', config]),
        ExecuteProcess(cmd=base, cwd=ROOT, output='screen', emulate_tty=True, sigterm_timeout='5',
                       condition=IfCondition(PythonExpression(['not ', has_params]))),
        ExecuteProcess(cmd=base + ['--params-file', params_file], cwd=ROOT, output='screen', emulate_tty=True,
                       sigterm_timeout='5', condition=IfCondition(has_params)),
    ])
