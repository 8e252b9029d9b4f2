"""HTTP on the wire: sending with deadlines and retries, and the aiohttp transport under httpx."""
