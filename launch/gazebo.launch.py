"""Gazebo (gz sim Harmonic or newer) + ros_gz_bridge + brainpilot, with no flight controller.

    ros2 launch launch/gazebo.launch.py world:=race model:=racer world_file:=/path/race.sdf

The bridge carries the model's camera, camera info and IMU to /camera/image_raw, /camera/camera_info
and /imu/data, brainpilot's rotor speeds (actuator_msgs/Actuators) from /motor_speed to the model's
MulticopterMotorModel topic, and gz's clock to /clock. The model must match the config's vehicle
(mass, arms, inertia, motorConstant·maxRotorRadS² = motorMaxThrustN) and carry sensors named
camera (on camera_link) and imu_sensor (on imu_link). Needs a sourced ROS 2 with ros_gz and rclnodejs.
"""
import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))


def generate_launch_description():
    world = LaunchConfiguration('world')
    model = LaunchConfiguration('model')
    world_file = LaunchConfiguration('world_file')
    config = LaunchConfiguration('config')
    sensors = ['/world/', world, '/model/', model, '/link/']
    gz = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(PathJoinSubstitution([FindPackageShare('ros_gz_sim'), 'launch', 'gz_sim.launch.py'])),
        launch_arguments={'gz_args': ['-r ', world_file]}.items())
    bridge = Node(
        package='ros_gz_bridge', executable='parameter_bridge', name='brainpilot_gz_bridge', output='screen',
        arguments=[
            # gz → ROS (`[`), ROS → gz (`]`)
            sensors + ['camera_link/sensor/camera/image@sensor_msgs/msg/Image[gz.msgs.Image'],
            sensors + ['camera_link/sensor/camera/camera_info@sensor_msgs/msg/CameraInfo[gz.msgs.CameraInfo'],
            sensors + ['imu_link/sensor/imu_sensor/imu@sensor_msgs/msg/Imu[gz.msgs.IMU'],
            ['/', model, '/command/motor_speed@actuator_msgs/msg/Actuators]gz.msgs.Actuators'],
            '/clock@rosgraph_msgs/msg/Clock[gz.msgs.Clock',
        ],
        remappings=[
            (sensors + ['camera_link/sensor/camera/image'], '/camera/image_raw'),
            (sensors + ['camera_link/sensor/camera/camera_info'], '/camera/camera_info'),
            (sensors + ['imu_link/sensor/imu_sensor/imu'], '/imu/data'),
            (['/', model, '/command/motor_speed'], '/motor_speed'),
        ])
    node = ExecuteProcess(cmd=['npx', 'brainpilot', 'run', '--config', config], cwd=ROOT, output='screen',
                          emulate_tty=True, sigterm_timeout='5', name='brainpilot')
    return LaunchDescription([
        DeclareLaunchArgument('world', default_value='race', description='the <world name> in the SDF'),
        DeclareLaunchArgument('model', default_value='racer', description='the quadrotor model name'),
        DeclareLaunchArgument('world_file', default_value='race.sdf', description='SDF world gz sim loads'),
        DeclareLaunchArgument('config', default_value=os.path.join(ROOT, 'config', 'gazebo.yaml')),
        gz,
        bridge,
        node,
    ])
