"""officials/views"""
