"""PX4 (SITL with gz, or a real vehicle) over uXRCE-DDS + brainpilot commanding offboard body rates.

    ros2 launch launch/px4.launch.py                       # agent + camera bridge + node
    ros2 launch launch/px4.launch.py px4_dir:=~/PX4-Autopilot   # also starts `make px4_sitl gz_x500_mono_cam`

PX4's uXRCE-DDS client publishes /fmu/out/... (SensorCombined is read as the IMU) and subscribes
/fmu/in/... (brainpilot publishes VehicleRatesSetpoint + OffboardControlMode, and a forced disarm
VehicleCommand). The camera comes from gz through ros_gz_bridge. Needs a sourced ROS 2 with px4_msgs
(built in your workspace, matching the PX4 version), ros_gz, the MicroXRCEAgent, and rclnodejs.
"""
import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import Node

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))


def generate_launch_description():
    px4_dir = LaunchConfiguration('px4_dir')
    world = LaunchConfiguration('world')
    model = LaunchConfiguration('model')
    config = LaunchConfiguration('config')
    agent_port = LaunchConfiguration('agent_port')
    camera = ['/world/', world, '/model/', model, '/link/camera_link/sensor/camera/']
    return LaunchDescription([
        DeclareLaunchArgument('px4_dir', default_value='', description='PX4-Autopilot checkout: start SITL from it ("" = PX4 runs elsewhere)'),
        DeclareLaunchArgument('world', default_value='default', description='gz world name (PX4_GZ_WORLD)'),
        DeclareLaunchArgument('model', default_value='x500_mono_cam_0', description='gz model instance carrying the camera'),
        DeclareLaunchArgument('agent_port', default_value='8888', description='MicroXRCEAgent UDP port'),
        DeclareLaunchArgument('config', default_value=os.path.join(ROOT, 'config', 'px4-ros2.yaml')),
        ExecuteProcess(cmd=['MicroXRCEAgent', 'udp4', '-p', agent_port], output='screen', name='micro_xrce_agent'),
        ExecuteProcess(cmd=['make', 'px4_sitl', 'gz_x500_mono_cam'], cwd=px4_dir, output='screen', name='px4_sitl',
                       condition=IfCondition(PythonExpression(["'", px4_dir, "' != ''"]))),
        Node(package='ros_gz_bridge', executable='parameter_bridge', name='brainpilot_camera_bridge', output='screen',
             arguments=[camera + ['image@sensor_msgs/msg/Image[gz.msgs.Image'],
                        camera + ['camera_info@sensor_msgs/msg/CameraInfo[gz.msgs.CameraInfo']],
             remappings=[(camera + ['image'], '/camera/image_raw'),
                         (camera + ['camera_info'], '/camera/camera_info')]),
        ExecuteProcess(cmd=['npx', 'brainpilot', 'run', '--config', config], cwd=ROOT, output='screen',
                       emulate_tty=True, sigterm_timeout='5', name='brainpilot'),
    ])
