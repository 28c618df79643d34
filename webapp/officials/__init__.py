"""officials"""
